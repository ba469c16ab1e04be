export {
  BYTES_PER_SAMPLE,
  int16FromBigEndian,
  int16FromLittleEndian,
  int16ToBigEndianBytes,
  int16ToLittleEndianBytes,
} from "./byte-order.js";
export { concatInt16, concatUint8 } from "./concat.js";
export {
  createDropOldestQueue,
  type DropOldestQueue,
  type DropOldestQueueOptions,
} from "./drop-oldest-queue.js";
export {
  createPushedItems,
  type PushedItems,
  type PushedItemsOptions,
} from "./pushed-items.js";
export { sleep } from "./sleep.js";
