// n8n loads the nodes and credentials listed under "n8n" in package.json; this entry point only
// gives `require('n8n-nodes-pipedrive-referrals')` the n8n-free core for scripts and tests.
module.exports = require('./dist/lib');
