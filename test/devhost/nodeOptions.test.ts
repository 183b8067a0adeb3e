import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { devhostNodeOptions } from '../../devhost/nodeOptions';

describe('devhost launch options', () => {
  it('bound the heap ceiling unless the user set a heap size in NODE_OPTIONS', () => {
    assert.deepEqual(devhostNodeOptions({}), ['--max-old-space-size=1024']);
    assert.deepEqual(devhostNodeOptions({ NODE_OPTIONS: '--enable-source-maps' }), [
      '--max-old-space-size=1024',
    ]);
    assert.deepEqual(
      devhostNodeOptions({ NODE_OPTIONS: '--enable-source-maps --max-old-space-size=4096' }),
      [],
    );
  });
});
