import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'dotenv';
import { Env } from './env-reader';

/**
 * The process environment over `.env.local` (written by `npm run services:up`): a variable set in the
 * real environment always wins, so deployments never depend on a file.
 */
export function environmentWithEnvFile(env: Env = process.env, file = path.resolve(process.cwd(), '.env.local')): Env {
  if (!fs.existsSync(file)) return { ...env };
  return { ...parse(fs.readFileSync(file)), ...env };
}
