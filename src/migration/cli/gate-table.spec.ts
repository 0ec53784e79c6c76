import { gateTable } from './gate-table';

describe('gateTable', () => {
  it('lines up pass/fail, name, value and threshold', () => {
    expect(
      gateTable([
        { name: 'error_rate', pass: false, value: 0.0512345, threshold: '<= 0.01' },
        { name: 'dwell', pass: true, value: 120000, threshold: '>= 1000 ms at this step' },
        { name: 'verification', pass: false, value: null, threshold: 'a clean run' },
      ]),
    ).toBe(
      [
        '      gate          value    threshold',
        'FAIL  error_rate    0.05123  <= 0.01',
        'PASS  dwell         120000   >= 1000 ms at this step',
        'FAIL  verification  -        a clean run',
      ].join('\n'),
    );
    expect(gateTable([])).toBe('(no gates)');
  });
});
