/**
 * `@Shadowed('get')` on a read handler marks it for shadow comparison. The marker belongs to the API (the
 * lower wing): shadow/ reads it from every request through its interceptor (registered app-wide by
 * ShadowModule), so the API does not import shadow/.
 */
import { SetMetadata } from '@nestjs/common';

/** The read endpoints that can be sampled. */
export type ShadowedEndpoint = 'get' | 'list';

export const SHADOWED_ENDPOINT = 'shadow:endpoint';

/** Samples this read endpoint for shadow comparison (rate per endpoint from the configuration). */
export const Shadowed = (endpoint: ShadowedEndpoint) => SetMetadata(SHADOWED_ENDPOINT, endpoint);
