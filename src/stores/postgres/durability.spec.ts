import { durabilityRisks } from './durability';

describe("PostgreSQL's durability settings", () => {
  it('name nothing when commits are flushed before they are acknowledged', () => {
    for (const synchronous_commit of ['on', 'remote_write', 'remote_apply', 'local'])
      expect(durabilityRisks({ fsync: 'on', synchronous_commit })).toEqual([]);
  });

  it('name each setting that lets a crash take back an acknowledged commit', () => {
    expect(durabilityRisks({ fsync: 'on', synchronous_commit: 'off' })).toEqual([
      expect.stringMatching(/^synchronous_commit is off: .*acknowledged/),
    ]);
    expect(durabilityRisks({ fsync: 'off', synchronous_commit: 'off' })).toEqual([
      expect.stringMatching(/^fsync is off/),
      expect.stringMatching(/^synchronous_commit is off/),
    ]);
  });
});
