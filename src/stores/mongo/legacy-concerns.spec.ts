import { MongoClient } from 'mongodb';
import { concernRisks, DEFAULT_LEGACY_READ_CONCERN, DEFAULT_LEGACY_WRITE_CONCERN, legacyConcerns } from './legacy-concerns';

/** The concerns the driver ends up with for `url` and the options connectLegacy gives it (no connection made). */
function effective(url: string) {
  return new MongoClient(url, legacyConcerns(url)).options;
}

describe('the legacy connection concerns', () => {
  it('are a journaled majority with a bound on the wait, and majority reads, when the connection string names none', () => {
    for (const url of ['mongodb://db.internal:27017/legacy', 'mongodb://a:1,b:2,c:3/legacy?replicaSet=rs0&readPreference=primary']) {
      expect(legacyConcerns(url)).toEqual({ writeConcern: DEFAULT_LEGACY_WRITE_CONCERN, readConcern: DEFAULT_LEGACY_READ_CONCERN });
      const options = effective(url);
      expect(options.writeConcern).toMatchObject({ w: 'majority', journal: true, wtimeoutMS: 5000 });
      expect(options.readConcern).toMatchObject({ level: 'majority' });
      expect(concernRisks(options)).toEqual([]);
    }
  });

  it("keep the connection string's own, whatever the spelling, and say when they may lose acknowledged writes", () => {
    expect(legacyConcerns('mongodb://h/db?w=1').writeConcern).toBeUndefined();
    expect(legacyConcerns('mongodb://h/db?replicaSet=rs0&W=2').writeConcern).toBeUndefined();
    expect(legacyConcerns('mongodb://h/db?wtimeoutMS=100').writeConcern).toBeUndefined();
    expect(legacyConcerns('mongodb+srv://cluster.example.com/db?journal=false').writeConcern).toBeUndefined();
    expect(legacyConcerns('mongodb://h/db?readConcernLevel=local')).toEqual({ writeConcern: DEFAULT_LEGACY_WRITE_CONCERN });
    expect(effective('mongodb://h/db?w=1').writeConcern).toMatchObject({ w: 1 });
    expect(concernRisks(effective('mongodb://h/db?w=1'))).toEqual([expect.stringMatching(/not "majority": a failover can roll back/)]);
    expect(concernRisks(effective('mongodb://h/db?w=majority&journal=false'))).toEqual([expect.stringMatching(/journal is false/)]);
    expect(concernRisks(effective('mongodb://h/db?readConcernLevel=local'))).toEqual([expect.stringMatching(/read concern is "local"/)]);
    expect(concernRisks(effective('mongodb://h/db?w=majority&readConcernLevel=linearizable'))).toEqual([]);
    expect(concernRisks({})).toHaveLength(2);
  });

  it('read option names only from the query, not from the hosts, the credentials or the values', () => {
    expect(legacyConcerns('mongodb://w:secret@h/db').writeConcern).toEqual(DEFAULT_LEGACY_WRITE_CONCERN);
    expect(legacyConcerns('mongodb://h/w?appName=journal').writeConcern).toEqual(DEFAULT_LEGACY_WRITE_CONCERN);
  });
});
