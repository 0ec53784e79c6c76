import { advanceMove, PLAN, PlanError, rollbackMove, startMove, stepName } from './phase-plan';

const at = (name: string) => PLAN.find((p) => stepName(p) === name)!;

describe('phase plan', () => {
  it('has the weights of SPEC section 3 in order', () => {
    expect(PLAN.map((p) => `${stepName(p)}:${p.weight}`)).toEqual([
      'not_started:0',
      'shadow:0',
      'canary:5',
      'rollout-10:10',
      'rollout-25:25',
      'rollout-50:50',
      'rollout-75:75',
      'rollout-100:100',
      'deprecation:100',
      'cleanup:100',
      'complete:100',
    ]);
  });

  it('starts only from not_started', () => {
    expect(startMove(at('not_started')).to).toEqual(at('shadow'));
    expect(() => startMove(at('shadow'))).toThrow(PlanError);
  });

  it('advances one step with the gate set of the target', () => {
    expect(() => advanceMove(at('not_started'))).toThrow(/use start/);
    expect(advanceMove(at('shadow'))).toMatchObject({ to: at('canary'), gates: 'into_canary' });
    expect(advanceMove(at('canary'))).toMatchObject({ to: at('rollout-10'), gates: 'later_step' });
    expect(advanceMove(at('rollout-100'))).toMatchObject({ to: at('deprecation'), gates: 'into_deprecation' });
    expect(advanceMove(at('deprecation'))).toMatchObject({ to: at('cleanup'), gates: 'into_cleanup' });
    expect(advanceMove(at('cleanup'))).toMatchObject({ to: at('complete'), gates: 'into_complete' });
    expect(() => advanceMove(at('complete'))).toThrow(/complete/);
  });

  it('rolls back one step or to a named earlier one, never below shadow, never from cleanup on', () => {
    expect(rollbackMove(at('rollout-50')).to).toEqual(at('rollout-25'));
    expect(rollbackMove(at('rollout-50'), 'canary').to).toEqual(at('canary'));
    expect(rollbackMove(at('deprecation'))).toMatchObject({ to: at('rollout-100'), flipsSourceOfTruth: true, gates: 'out_of_deprecation' });
    expect(rollbackMove(at('canary')).to).toEqual(at('shadow'));
    expect(() => rollbackMove(at('shadow'))).toThrow(/nothing to roll back/);
    expect(() => rollbackMove(at('canary'), 'not_started')).toThrow(/no further than shadow/);
    expect(() => rollbackMove(at('canary'), 'rollout-50')).toThrow(/not earlier/);
    expect(() => rollbackMove(at('canary'), 'sideways')).toThrow(/unknown step/);
    for (const name of ['cleanup', 'complete']) {
      expect(() => rollbackMove(at(name))).toThrow(expect.objectContaining({ code: 'ROLLBACK_REFUSED' }));
    }
  });
});
