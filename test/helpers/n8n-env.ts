/**
 * Process environment for n8n-core in tests. Imported first by ./n8n.ts; values already set
 * in the environment win.
 *
 *  - Every node context reads `Container.get(InstanceSettings)` (instance id, HMAC secret of
 *    resume URLs). Constructing it loads, or creates, `<N8N_USER_FOLDER or $HOME>/.n8n/config`
 *    with an encryption key: point it at a scratch folder so tests never touch a real one.
 *  - WorkflowExecute hands every node error to n8n's ErrorReporter, which logs it with its
 *    stack through n8n's Logger. Failing runs are expected in tests, so keep that quiet
 *    (set N8N_LOG_LEVEL=debug to see it).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';

process.env.N8N_USER_FOLDER ??= join(tmpdir(), 'n8n-test-harness');
process.env.N8N_LOG_LEVEL ??= 'silent';
