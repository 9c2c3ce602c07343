import tsParser from '@typescript-eslint/parser';
import { n8nCommunityNodesPlugin } from '@n8n/eslint-plugin-community-nodes';
import n8nNodesBase from 'eslint-plugin-n8n-nodes-base';

const tsFiles = ['nodes/**/*.ts', 'credentials/**/*.ts', 'lib/**/*.ts'];

export default [
	{
		ignores: ['dist/**', 'node_modules/**', 'test/**', 'bench/**', 'sandbox/**', 'scripts/**', '*.js', '*.mjs'],
	},
	{
		files: [...tsFiles, 'package.json'],
		languageOptions: { parser: tsParser, parserOptions: { sourceType: 'module' } },
	},
	// n8n's rules for community packages, and the rules n8n applies to its own nodes and credentials.
	{ files: [...tsFiles, 'package.json'], ...n8nCommunityNodesPlugin.configs.recommended },
	// The fourth: disposable email domains come from the maintained `disposable-email-domains` list
	// (data only, no dependencies), so `npm update` refreshes it. Only this file reads it.
	{
		files: ['lib/referrals/disposable.ts'],
		rules: { '@n8n/community-nodes/no-restricted-imports': 'off' },
	},
	{
		files: ['package.json'],
		plugins: { 'n8n-nodes-base': n8nNodesBase },
		rules: n8nNodesBase.configs.community.rules,
	},
	{
		files: ['credentials/**/*.ts'],
		plugins: { 'n8n-nodes-base': n8nNodesBase },
		rules: {
			...n8nNodesBase.configs.credentials.rules,
			// The community rule `credential-documentation-url` takes full URLs; this older one only slugs.
			'n8n-nodes-base/cred-class-field-documentation-url-miscased': 'off',
		},
	},
	{
		files: ['nodes/**/*.ts'],
		plugins: { 'n8n-nodes-base': n8nNodesBase },
		rules: {
			...n8nNodesBase.configs.nodes.rules,
			// Superseded by the community rule `node-connection-type-literal` (NodeConnectionTypes, not 'main').
			'n8n-nodes-base/node-class-description-inputs-wrong-regular-node': 'off',
			'n8n-nodes-base/node-class-description-outputs-wrong': 'off',
		},
	},
	// lib/ is n8n-free by design (shared/design.md): it throws its own errors, which the nodes turn
	// into NodeOperationError / NodeApiError with the item index.
	{
		files: ['lib/**/*.ts'],
		rules: { '@n8n/community-nodes/require-node-api-error': 'off' },
	},
	// The one place this package departs from n8n Cloud's rules for verified nodes: the referral
	// store keeps its data in a SQLite file beside n8n's own (node:fs, node:path, node:os,
	// node:sqlite, process.env for the n8n user folder) or in PostgreSQL (the `pg` runtime
	// dependency). So the pack runs on self-hosted n8n only, which is what it is for.
	{
		files: ['lib/store/**/*.ts'],
		rules: {
			'@n8n/community-nodes/no-restricted-imports': 'off',
			'@n8n/community-nodes/no-restricted-globals': 'off',
		},
	},
	// The second exception: a node cannot tell a queue-mode worker or a configured public URL from
	// n8n's localhost default, so the link base reads WEBHOOK_URL, N8N_EDITOR_BASE_URL and
	// EXECUTIONS_MODE itself (nodes/shared/publicUrl.ts, nothing else).
	{
		files: ['nodes/shared/publicUrl.ts'],
		rules: { '@n8n/community-nodes/no-restricted-globals': 'off' },
	},
	// The third: the referrer pages draw their QR code on the server with `qrcode-generator` (no
	// dependencies of its own), so no page loads a third-party service or CDN. Only this file uses it.
	{
		files: ['lib/portal/qr.ts'],
		rules: { '@n8n/community-nodes/no-restricted-imports': 'off' },
	},
	// The fourth: disposable email domains come from the maintained `disposable-email-domains` list
	// (data only, no dependencies), so `npm update` refreshes it. Only this file reads it.
	{
		files: ['lib/referrals/disposable.ts'],
		rules: { '@n8n/community-nodes/no-restricted-imports': 'off' },
	},
	{
		files: ['package.json'],
		rules: { '@n8n/community-nodes/no-runtime-dependencies': 'off' },
	},
];
