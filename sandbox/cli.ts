/**
 * npm run sandbox -- [--port 4010] [--host 127.0.0.1] [--persons N] [--leads N] [--rate-limit 40]
 *                    [--search-rate-limit 10] [--daily-budget 0] [--webhook-time-scale 1]
 *                    [--conversion-delay 0] [--token <api token>] [--fault-rate 0]
 *                    [--webhook-custom-fields sparse|typed|plain] [--quiet]
 */
import { SEED_COMPANY } from './seed';
import { implementedOperations, startSandbox } from './server';

function parseArgs(argv: string[]): Record<string, string | true> {
	const out: Record<string, string | true> = {};
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (!a.startsWith('--')) continue;
		const [k, inline] = a.slice(2).split('=', 2);
		if (inline !== undefined) out[k] = inline;
		else if (argv[i + 1] !== undefined && !argv[i + 1].startsWith('--')) out[k] = argv[++i];
		else out[k] = true;
	}
	return out;
}

function num(v: string | true | undefined, name: string): number | undefined {
	if (v === undefined) return undefined;
	const n = Number(v);
	if (v === true || !Number.isFinite(n)) throw new Error(`--${name} needs a number`);
	return n;
}

async function main(): Promise<void> {
	const args = parseArgs(process.argv.slice(2));
	if (args.help || args.h) {
		console.log(
			'usage: npm run sandbox -- [--port 4010] [--host 127.0.0.1] [--persons N] [--leads N] [--rate-limit 40] [--search-rate-limit 10] [--daily-budget N] [--webhook-time-scale 1] [--conversion-delay ms] [--token T] [--fault-rate 0..1] [--webhook-custom-fields sparse|typed|plain]',
		);
		return;
	}
	const token = typeof args.token === 'string' ? args.token : undefined;
	const customFields = args['webhook-custom-fields'];
	if (customFields !== undefined && (customFields === true || !['sparse', 'typed', 'plain'].includes(customFields))) {
		throw new Error('--webhook-custom-fields needs sparse, typed or plain');
	}
	const sb = await startSandbox({
		port: num(args.port, 'port') ?? 4010,
		host: typeof args.host === 'string' ? args.host : '127.0.0.1',
		tokens: token ? [token] : undefined,
		rateLimit: num(args['rate-limit'], 'rate-limit'),
		searchRateLimit: num(args['search-rate-limit'], 'search-rate-limit'),
		dailyBudget: num(args['daily-budget'], 'daily-budget'),
		webhookTimeScale: num(args['webhook-time-scale'], 'webhook-time-scale'),
		conversionDelayMs: num(args['conversion-delay'], 'conversion-delay'),
		webhookCustomFields: customFields as 'sparse' | 'typed' | 'plain' | undefined,
		faults: args['fault-rate'] !== undefined ? { rate: num(args['fault-rate'], 'fault-rate')!, seed: 1 } : null,
		seed: { extraPersons: num(args.persons, 'persons'), extraLeads: num(args.leads, 'leads') },
	});
	const u = sb.url;
	const leadId = sb.state.leadList[0]?.id ?? '<lead id>';
	const ops = implementedOperations();
	const lines = [
		'',
		`Pipedrive sandbox listening on ${u}`,
		'',
		`  Company domain : ${SEED_COMPANY.domain} (id ${sb.state.company.id}), user ${sb.state.me.name} (id ${sb.state.me.id})`,
		`  API token      : ${sb.apiToken}   (header  x-api-token: <token>)`,
		sb.oauthToken ? `  OAuth token    : ${sb.oauthToken}   (header  Authorization: Bearer <token>; all scopes)` : null,
		`  Base URLs      : ${u}/v1   ${u}/api/v1   ${u}/api/v2`,
		`  Seed           : ${sb.state.personList.length} persons, ${sb.state.dealList.length} deals, ${sb.state.leadList.length} leads, ${sb.state.pipelines.length} pipelines / ${sb.state.stages.length} stages`,
		`  Rate limit     : ${sb.limiter.config.limit || 'off'} per 2 s (search ${sb.limiter.config.searchLimit || 'off'}), daily budget ${sb.limiter.config.dailyBudget || 'off'}`,
		`  Webhooks       : custom fields ${sb.webhooks.options.customFieldFormat}, time scale ${sb.webhooks.options.timeScale}`,
		'',
		'  Serves (validated against ../shared/pipedrive-openapi v1.yaml / v2.yaml):',
		...ops.map((o) => {
			const op = sb.spec.getOperation(o.version, o.operationId)!;
			return `    ${o.version === 'v1' ? '/v1    ' : '/api/v2'} ${op.method.padEnd(6)} ${op.pathTemplate.padEnd(44)} ${o.operationId} (cost ${op.tokenCost})`;
		}),
		'',
		'  Try it:',
		`    curl -s -H 'x-api-token: ${sb.apiToken}' ${u}/v1/users/me`,
		`    curl -s -H 'x-api-token: ${sb.apiToken}' '${u}/api/v2/persons?limit=5'`,
		`    curl -s -H 'x-api-token: ${sb.apiToken}' '${u}/api/v2/persons/search?term=anna.schmidt@example.com&fields=email&exact_match=true'`,
		'',
		'  Admin (JSON, no auth):',
		`    curl -s ${u}/__admin/                                  # list of admin endpoints`,
		`    curl -s ${u}/__admin/state | head -c 2000`,
		`    curl -s ${u}/__admin/requests?limit=20`,
		`    curl -s ${u}/__admin/violations`,
		`    curl -s -X POST ${u}/__admin/reset -H 'content-type: application/json' -d '{"extraPersons": 1000}'`,
		`    curl -s -X POST ${u}/__admin/seed/persons -H 'content-type: application/json' -d '{"count": 10000}'`,
		`    curl -s -X POST ${u}/__admin/rate-limit -H 'content-type: application/json' -d '{"limit": 20, "dailyBudget": 30000}'`,
		`    curl -s -X POST ${u}/__admin/faults -H 'content-type: application/json' -d '{"rate": 0.2, "kinds": ["503","429","timeout"], "paths": ["/api/v2/persons*"], "seed": 7}'`,
		`    curl -s -X POST ${u}/__admin/deals/2/stage -H 'content-type: application/json' -d '{"stage_id": 9}'`,
		`    curl -s -X POST ${u}/__admin/deals/2/status -H 'content-type: application/json' -d '{"status": "won"}'`,
		`    curl -s -X POST ${u}/__admin/leads/${leadId}/labels -H 'content-type: application/json' -d '{"labels": ["Referral", "Hot"]}'`,
		`    curl -s -X POST ${u}/__admin/leads/${leadId}/convert -H 'content-type: application/json' -d '{"stage_id": 6}'`,
		`    curl -s ${u}/__admin/webhooks/deliveries`,
		`    curl -s -X POST ${u}/__admin/webhooks/redeliver-last`,
		`    curl -s -X POST ${u}/__admin/persons/5/merge -H 'content-type: application/json' -d '{"merge_with_id": 4}'`,
		`    curl -s -X POST ${u}/__admin/clock -H 'content-type: application/json' -d '{"advanceMs": 259200000}'`,
		`    curl -s -X POST ${u}/__admin/traffic/ordinary-day -H 'content-type: application/json' -d '{"seed": 7, "foreignCodes": ["OTHER-1"]}'`,
		'',
	];
	if (!args.quiet) console.log(lines.filter((l) => l !== null).join('\n'));
	const stop = async () => {
		await sb.close();
		process.exit(0);
	};
	process.on('SIGINT', () => void stop());
	process.on('SIGTERM', () => void stop());
}

main().catch((e) => {
	console.error(e instanceof Error ? e.message : e);
	process.exit(1);
});
