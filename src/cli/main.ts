#!/usr/bin/env node
// wgrad-moco: MoCo pre-training and evaluation on the command line.
//   wgrad-moco train [options]     train (defaults: Fashion-MNIST, small ConvNet, kNN monitor)
//   wgrad-moco evaluate [options]  kNN monitor + linear probe of a saved run, with baselines
//   wgrad-moco ablate [options]    momentum ablation, queue / end-to-end / memory-bank and a methods comparison in miniature
//   wgrad-moco help

import { train, TRAIN_OPTIONS } from './train.ts';
import { ablate, ABLATE_DEFAULTS } from './ablate.ts';
import { evaluate, EVALUATE_OPTIONS } from './evaluate.ts';
import { helpText } from './args.ts';
import { shutdown, hasDevice, device } from '../runtime.ts';

const usage = `usage: wgrad-moco <command> [options]

commands:
  train     MoCo pre-training with a kNN monitor after every epoch
  evaluate  kNN monitor and linear probe of a trained run's checkpoint, with both baselines
  ablate    the paper's ablations in miniature: momentum m = 0, 0.9, 0.99, 0.999 and mechanism
            queue vs end-to-end vs memory bank (§4.1, Fig. 3); MoCo v1/v2/v3, SimCLR, memory bank,
            DCL and NNCLR on one budget
  help      this text

train options:
${helpText(TRAIN_OPTIONS)}

evaluate options:
${helpText(EVALUATE_OPTIONS)}

ablate takes the train options (its defaults: ${ABLATE_DEFAULTS.join(' ')}) and
  --study momentum|mechanism|both|methods|all  (default both = momentum + mechanism; all = both + methods)
  --out DIR                        (default runs/ablate) ablation.md, momentum.svg, mechanism.svg, one run per folder;
                                   methods: methods.md, methods.svg, runs in methods/ (full-set kNN on)
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'train':
      if (rest.includes('--help')) break;
      await train(rest);
      return 0;
    case 'evaluate':
      if (rest.includes('--help')) break;
      await evaluate(rest);
      return 0;
    case 'ablate':
      if (rest.includes('--help')) break;
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
    // Errors of the commands already name where they come from ('wgrad-moco train: …', 'wgrad: …').
    console.error(`\n${/^wgrad/.test(e.message) ? e.message : `wgrad-moco: ${e.message}`}`);
    if (hasDevice() && device().isLost) {
      console.error(
        'wgrad-moco: training stopped because the GPU device was lost. Checkpoints written so far are intact: run the same command with --resume to continue from the last one.',
      );
    }
    shutdown();
    process.exitCode = 1;
  });
