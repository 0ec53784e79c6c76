/** The write fence's injection token (src/mode/write-fence.ts). */
export const WRITE_FENCE = Symbol('WRITE_FENCE');
