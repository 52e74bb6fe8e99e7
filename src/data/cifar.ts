/**
 * CIFAR-10 binary batches (`data_batch_1.bin` … `data_batch_5.bin`, `test_batch.bin`), pure.
 *
 * Each record is 1 label byte (0..9) then 3072 pixel bytes: the 32×32 red plane, then green,
 * then blue, each row-major. That is already CHW, so images come out as N×3×32×32 by copying
 * the pixel bytes of each record one after another.
 */

export const CIFAR10_SIDE = 32;
export const CIFAR10_IMAGE_BYTES = 3 * CIFAR10_SIDE * CIFAR10_SIDE; // 3072
export const CIFAR10_RECORD_BYTES = 1 + CIFAR10_IMAGE_BYTES; // 3073

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/** Images and labels of one CIFAR-10 binary batch. */
export interface Cifar10Batch {
  /** N×3×32×32, CHW per image, values 0..255. */
  images: Uint8Array;
  labels: Uint8Array;
}

/**
 * Parses one CIFAR-10 binary batch (records of a label byte and 3×32×32 pixels). `source` names
 * the file in error messages.
 * @example
 * const { images, labels } = parseCifar10Batch(new Uint8Array(2 * 3073)); // two all-zero records
 * console.log(images.length, labels.length); // 6144 2
 */
export function parseCifar10Batch(bytes: Uint8Array, source = 'CIFAR-10 batch'): Cifar10Batch {
  if (bytes.length % CIFAR10_RECORD_BYTES !== 0) {
    const n = Math.floor(bytes.length / CIFAR10_RECORD_BYTES);
    throw new Error(
      `${source}: ${bytes.length} bytes is not a multiple of the ${CIFAR10_RECORD_BYTES}-byte ` +
        `CIFAR-10 record (${n} whole records + ${bytes.length - n * CIFAR10_RECORD_BYTES} bytes); truncated or not CIFAR-10?`,
    );
  }
  const count = bytes.length / CIFAR10_RECORD_BYTES;
  const images = new Uint8Array(count * CIFAR10_IMAGE_BYTES);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const at = i * CIFAR10_RECORD_BYTES;
    const label = bytes[at];
    if (label > 9) {
      throw new Error(`${source}: record ${i} (byte offset ${at}) has label ${label}; CIFAR-10 labels are 0..9`);
    }
    labels[i] = label;
    images.set(bytes.subarray(at + 1, at + CIFAR10_RECORD_BYTES), i * CIFAR10_IMAGE_BYTES);
  }
  return { images, labels };
}
