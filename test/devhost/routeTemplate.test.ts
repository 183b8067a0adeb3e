import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileRouteTemplate, RouteTemplateError } from '../../devhost/http/routeTemplate';
import { TemplateRouter } from '../../devhost/http/templateRouter';

function routerWith(routes: [string, string, string[]?][], prefix = 'api'): TemplateRouter<string> {
  const router = new TemplateRouter<string>();
  for (const [name, template, methods] of routes) router.add(methods ?? ['GET'], template, prefix, name);
  return router;
}

function match(router: TemplateRouter<string>, path: string, method = 'GET') {
  const found = router.find(method, path);
  return found ? { name: found.value, params: found.params } : undefined;
}

describe('Azure route templates on find-my-way', () => {
  it('matches literals case-insensitively and keeps parameter values as sent', () => {
    const router = routerWith([['get', 'Orders/{Region}/{orderId}']]);
    assert.deepEqual(match(router, '/API/orders/SEA/A-1'), {
      name: 'get',
      params: { Region: 'SEA', orderId: 'A-1' },
    });
    assert.equal(match(router, '/api/orders/SEA'), undefined);
    assert.equal(match(router, '/orders/SEA/1'), undefined, 'the prefix is required');
  });

  it('lets typed constraints pick between routes of the same shape, falling back to the unconstrained one', () => {
    const router = routerWith([
      ['any', 'items/{key}'],
      ['byId', 'items/{id:int}'],
      ['byName', 'items/{name:alpha}'],
      ['byGuid', 'items/{g:guid}'],
    ]);
    assert.equal(match(router, '/api/items/42')?.name, 'byId');
    assert.equal(match(router, '/api/items/abc')?.name, 'byName');
    assert.equal(match(router, '/api/items/0f8fad5b-d9cb-469f-a165-70867728950e')?.name, 'byGuid');
    assert.equal(match(router, '/api/items/4x')?.name, 'any');
    assert.deepEqual(match(router, '/api/items/4x')?.params, { key: '4x' });
  });

  it('checks numeric ranges, lengths, booleans, decimals, datetimes and regexes', () => {
    const router = routerWith([
      ['range', 'r/{n:range(1,10)}'],
      ['min', 'm/{n:min(5)}'],
      ['len', 'l/{code:length(3)}'],
      ['minmax', 'mm/{code:minlength(2):maxlength(4)}'],
      ['bool', 'b/{flag:bool}'],
      ['dec', 'd/{v:decimal}'],
      ['date', 't/{at:datetime}'],
      ['regex', 'x/{sku:regex(^[a-z]{{2}}-\\d+$)}'],
      ['int32', 'i/{n:int}'],
    ]);
    assert.equal(match(router, '/api/r/10')?.name, 'range');
    assert.equal(match(router, '/api/r/11'), undefined);
    assert.equal(match(router, '/api/m/4'), undefined);
    assert.equal(match(router, '/api/m/5')?.name, 'min');
    assert.equal(match(router, '/api/l/abc')?.name, 'len');
    assert.equal(match(router, '/api/l/abcd'), undefined);
    assert.equal(match(router, '/api/mm/a'), undefined);
    assert.equal(match(router, '/api/mm/abcd')?.name, 'minmax');
    assert.equal(match(router, '/api/b/TRUE')?.name, 'bool');
    assert.equal(match(router, '/api/b/yes'), undefined);
    assert.equal(match(router, '/api/d/-3.25')?.name, 'dec');
    assert.equal(match(router, '/api/d/3.'), undefined);
    assert.equal(match(router, '/api/t/2026-01-31T10:00:00Z')?.name, 'date');
    assert.equal(match(router, '/api/t/yesterday'), undefined);
    assert.equal(match(router, '/api/x/AB-12')?.name, 'regex', 'route regexes ignore case, as in ASP.NET');
    assert.equal(match(router, '/api/x/ab12'), undefined);
    assert.equal(match(router, '/api/i/2147483648'), undefined, 'int is 32-bit');
  });

  it('treats trailing optional parameters, defaults and catch-alls as optional', () => {
    const router = routerWith([
      ['opt', 'hello/{first?}/{last?}'],
      ['def', 'page/{n:int=1}'],
      ['files', 'files/{*path}'],
    ]);
    assert.deepEqual(match(router, '/api/hello'), { name: 'opt', params: {} });
    assert.deepEqual(match(router, '/api/hello/Ann/Lee'), {
      name: 'opt',
      params: { first: 'Ann', last: 'Lee' },
    });
    assert.deepEqual(match(router, '/api/page'), { name: 'def', params: { n: '1' } });
    assert.deepEqual(match(router, '/api/page/3'), { name: 'def', params: { n: '3' } });
    assert.equal(match(router, '/api/page/x'), undefined);
    assert.deepEqual(match(router, '/api/files/a/b%20c.txt'), {
      name: 'files',
      params: { path: 'a/b c.txt' },
    });
    assert.deepEqual(match(router, '/api/files'), { name: 'files', params: {} });
  });

  it('supports several parameters in one segment and an empty route prefix', () => {
    const router = routerWith([['range', 'span/{from}-{to}']], '');
    assert.deepEqual(match(router, '/span/3-9'), { name: 'range', params: { from: '3', to: '9' } });
  });

  it('keeps methods apart and reports the allowed ones', () => {
    const router = routerWith([
      ['read', 'things/{id}', ['GET']],
      ['write', 'things/{id}', ['PUT', 'DELETE']],
    ]);
    assert.equal(match(router, '/api/things/1', 'DELETE')?.name, 'write');
    assert.equal(match(router, '/api/things/1', 'POST'), undefined);
    assert.deepEqual(router.allowedMethods('/api/things/1'), ['GET', 'PUT', 'DELETE']);
  });

  it('rejects templates Azure rejects', () => {
    for (const bad of ['a/{x?}/b', 'a/{*rest}/b', 'a/{x}{y}', 'a/{x}/{x}', 'a/{id:bogus}', 'a/{x', 'a//b']) {
      assert.throws(() => compileRouteTemplate(bad, 'api'), RouteTemplateError, bad);
    }
  });
});
