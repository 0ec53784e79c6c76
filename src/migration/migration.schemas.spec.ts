import { inputJsonSchema } from '../http/schema-kit';
import { PLAN, positionNamed, stepName } from './domain/phase-plan';
import { RollbackSchema } from './migration.schemas';

describe('operator input schemas', () => {
  // The document names what the plan accepts, so a client (or the CI fuzzer) drawing from it is not refused UNKNOWN_STEP.
  it("documents a rollback's steps as the plan's, each a name the plan knows", () => {
    const doc = inputJsonSchema(RollbackSchema) as {
      properties: Record<string, { enum?: string[] }>;
    };
    expect(doc.properties.to.enum).toEqual(PLAN.map(stepName));
    expect(doc.properties.expectedStep.enum).toEqual(PLAN.map(stepName));
    for (const name of doc.properties.to.enum!) expect(stepName(positionNamed(name))).toBe(name);
  });
});
