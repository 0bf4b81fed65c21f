import { confluentErrorOf, RegistryError, registryErrors } from '../../../../gateway/middleware/confluentErrors';
import { ConflictError, ForbiddenError, GovxError, InputError, UnauthenticatedError, UnavailableError } from '../../../../lib/errors';

describe('confluentErrorOf', () => {
  it('keeps a registry error as Confluent code and status', () => {
    expect(confluentErrorOf(registryErrors.versionNotFound(3), 'r1')).toMatchObject({ status: 404, body: { error_code: 40402, message: 'Version 3 not found.' } });
    expect(confluentErrorOf(new RegistryError(409, 409, 'incompatible'), 'r1')?.body).toEqual({ error_code: 409, message: 'incompatible' });
  });

  it('renders authentication failures as 40101 with a Basic challenge, and denials as 40301', () => {
    const unauthenticated = confluentErrorOf(new UnauthenticatedError(), 'r1')!;
    expect(unauthenticated).toMatchObject({ status: 401, body: { error_code: 40101 }, headers: { 'WWW-Authenticate': 'Basic realm="govx-registry"' } });
    expect(unauthenticated.body.message).not.toMatch(/Bearer/);
    expect(confluentErrorOf(new UnauthenticatedError('bad', 'auth.invalid_key'), 'r1')?.body.message).toMatch(/not valid/);
    expect(confluentErrorOf(new ForbiddenError('no'), 'r1')).toMatchObject({ status: 403, body: { error_code: 40301 } });
  });

  it('gives other client errors their HTTP status as the code', () => {
    expect(confluentErrorOf(new InputError('x.y', 'bad input'), 'r1')).toMatchObject({ status: 400, body: { error_code: 400, message: 'bad input' } });
    expect(confluentErrorOf(new ConflictError('x.y', 'taken'), 'r1')).toMatchObject({ status: 409, body: { error_code: 409 } });
    expect(confluentErrorOf(new GovxError(412, 'catalog.stale_etag', 'stale'), 'r1')).toMatchObject({ status: 412, body: { error_code: 412 } });
  });

  it('maps body-parser failures to 400, 413 and 415', () => {
    expect(confluentErrorOf({ type: 'entity.parse.failed', message: 'Unexpected end' }, 'r1')).toMatchObject({ status: 400, body: { error_code: 400 } });
    expect(confluentErrorOf({ type: 'entity.too.large', limit: 10 }, 'r1')?.body).toEqual({ error_code: 413, message: 'The request body is larger than the limit of 10 bytes' });
    expect(confluentErrorOf({ type: 'charset.unsupported', message: 'no' }, 'r1')?.status).toBe(415);
    expect(confluentErrorOf({ status: 404, message: 'gone' }, 'r1')?.body).toEqual({ error_code: 404, message: 'gone' });
  });

  it('leaves server failures to the handler, which logs them and answers 50001', () => {
    expect(confluentErrorOf(new Error('boom'), 'r1')).toBeNull();
    expect(confluentErrorOf(new UnavailableError('kafka.down', 'down', 5), 'r1')).toBeNull();
    expect(confluentErrorOf({ status: 502 }, 'r1')).toBeNull();
  });
});
