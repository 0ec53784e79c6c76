import { ObjectId } from 'mongodb';
import { hexOf, objectIdAt, objectIdFloor } from './object-id-time';

describe('objectIdFloor', () => {
  it('sorts before every id of the overlap window and after older ones', () => {
    const t = new Date('2024-05-06T07:08:09Z');
    const id =
      ObjectId.createFromTime(t.getTime() / 1000)
        .toHexString()
        .slice(0, 8) + 'ffffffffffffffff';
    const floor = objectIdFloor(id, 5000);
    expect(floor <= id).toBe(true);
    const inWindow = ObjectId.createFromTime(t.getTime() / 1000 - 5).toHexString();
    const before =
      ObjectId.createFromTime(t.getTime() / 1000 - 6)
        .toHexString()
        .slice(0, 8) + 'ffffffffffffffff';
    expect(floor <= inWindow).toBe(true);
    expect(floor > before).toBe(true);
  });

  it('never goes below the epoch', () => {
    expect(objectIdFloor('000000010000000000000000', 60_000)).toBe('000000000000000000000000');
  });
});

describe('objectIdAt', () => {
  it('sorts before every id made in that second or later, and after every id made before it', () => {
    const ms = Date.parse('2024-05-06T07:08:09.750Z');
    const at = objectIdAt(ms);
    expect(at).toBe(
      ObjectId.createFromTime(ms / 1000)
        .toHexString()
        .slice(0, 8) + '0'.repeat(16),
    );
    expect(at <= ObjectId.createFromTime(Math.floor(ms / 1000)).toHexString()).toBe(true);
    expect(
      at >
        ObjectId.createFromTime(Math.floor(ms / 1000) - 1)
          .toHexString()
          .slice(0, 8) +
          'f'.repeat(16),
    ).toBe(true);
  });
});

describe('hexOf', () => {
  it('reads ObjectIds and hex strings only', () => {
    const id = new ObjectId();
    expect(hexOf(id)).toBe(id.toHexString());
    expect(hexOf(id.toHexString())).toBe(id.toHexString());
    expect(hexOf('abc')).toBeUndefined();
    expect(hexOf(42)).toBeUndefined();
  });
});
