import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { dependencyViolations } from '../scripts/lib/dependency-rule';

describe('the dependency rule', () => {
  it('holds for this code base: domain code imports only domain code, ports and Node built-ins', () => {
    expect(dependencyViolations(__dirname)).toEqual([]);
  });

  it('catches a domain file importing a driver, Nest or an adapter', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'deps-'));
    const src = path.join(root, 'src');
    fs.mkdirSync(path.join(src, 'things/domain'), { recursive: true });
    fs.mkdirSync(path.join(src, 'stores'), { recursive: true });
    fs.writeFileSync(
      path.join(src, 'things/domain/thing.ts'),
      ["import { Injectable } from '@nestjs/common';", "import type { Db } from 'mongodb';", "import { x } from '../../stores/mongo.store';", "import type { P } from '../../stores/thing.port';", "import { y } from './other';", "import { createHash } from 'node:crypto';"].join('\n'),
    );
    try {
      expect(dependencyViolations(src).map((v) => [v.line, v.imports])).toEqual([
        [1, '@nestjs/common'],
        [2, 'mongodb'],
        [3, '../../stores/mongo.store'],
      ]);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
