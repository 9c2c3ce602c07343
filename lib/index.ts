// The n8n-free core, for scripts and tests: `require('n8n-nodes-pipedrive-referrals')`.
export * as pipedrive from './pipedrive';
export * as referrals from './referrals';
export * as store from './store';
export * as sync from './sync';
export * as portal from './portal';
