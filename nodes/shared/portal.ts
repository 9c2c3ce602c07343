import type { ICredentialsDecrypted, ICredentialTestFunctions, INodeCredentialTestResult } from 'n8n-workflow';

import { MIN_SECRET_LENGTH, parseSecret } from '../../lib/portal/tokens';

// Nodes declare it as { name: 'referralPortalApi', testedBy: 'referralPortalSecretTest' }.

/** The Referral Portal credential's Test button: the secret must be long enough to sign with. */
export async function referralPortalSecretTest(
	this: ICredentialTestFunctions,
	credential: ICredentialsDecrypted,
): Promise<INodeCredentialTestResult> {
	try {
		parseSecret(credential.data?.secret);
		return { status: 'OK', message: 'The secret can sign stats-page links' };
	} catch {
		return { status: 'Error', message: `The secret must be at least ${MIN_SECRET_LENGTH} characters` };
	}
}
