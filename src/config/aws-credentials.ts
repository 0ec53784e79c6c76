import type { EnvReader } from './env-reader';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** A function rather than an object, so the keys never show up when a config object is printed or serialised. */
export type AwsCredentialsProvider = () => Promise<AwsCredentials>;

/**
 * AWS keys from the settings: both or neither (then the SDK's default chain applies). Problems name
 * the variables, never a value; the keys are held in a function so they never appear when the config
 * is printed or logged.
 */
export function readAwsCredentials(r: EnvReader): AwsCredentialsProvider | undefined {
  const accessKeyId = r.optionalString('AWS_ACCESS_KEY_ID');
  const secretAccessKey = r.optionalString('AWS_SECRET_ACCESS_KEY');
  const sessionToken = r.optionalString('AWS_SESSION_TOKEN');
  if (accessKeyId === undefined && secretAccessKey === undefined) return undefined;
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    const [missing, present] =
      accessKeyId === undefined ? ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'] : ['AWS_SECRET_ACCESS_KEY', 'AWS_ACCESS_KEY_ID'];
    r.problem(missing, `is required when ${present} is set`);
    return undefined;
  }
  const credentials = { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
  return async () => credentials;
}
