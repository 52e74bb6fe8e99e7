#!/usr/bin/env node
// wgrad-moco: MoCo pre-training and evaluation on the command line.
//   wgrad-moco train [options]     train (defaults: Fashion-MNIST, small ConvNet, kNN monitor)
//   wgrad-moco ablate [options]    momentum ablation m ∈ {0, 0.9, 0.99, 0.999} in miniature
//   wgrad-moco help

import { train, TRAIN_OPTIONS } from './train.ts';
import { ablate } from './ablate.ts';
import { helpText } from './args.ts';
import { shutdown } from '../runtime.ts';

const usage = `usage: wgrad-moco <command> [options]

commands:
  train     MoCo pre-training with a kNN monitor after every epoch
  ablate    the paper's momentum ablation in miniature (m = 0, 0.9, 0.99, 0.999)
  help      this text

train options:
${helpText(TRAIN_OPTIONS)}
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'train':
      if (rest.includes('--help')) break;
      await train(rest);
      return 0;
    case 'ablate':
      await ablate(rest);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      break;
    default:
      console.error(`wgrad-moco: unknown command '${command}'\n`);
      console.error(usage);
      return 2;
  }
  console.log(usage);
  return 0;
}

main(process.argv.slice(2))
  .then((code) => {
    shutdown();
    process.exitCode = code;
  })
  .catch((e: Error) => {
    console.error(`\nwgrad-moco: ${e.message}`);
    shutdown();
    process.exitCode = 1;
  });
