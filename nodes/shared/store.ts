import type {
	ICredentialsDecrypted,
	ICredentialTestFunctions,
	IExecuteFunctions,
	IHookFunctions,
	ILoadOptionsFunctions,
	INodeCredentialTestResult,
	IPollFunctions,
	IWebhookFunctions,
} from 'n8n-workflow';
import { NodeOperationError } from 'n8n-workflow';

import { ReferralProgram } from '../../lib/referrals/program';
import { storeConfigFromCredential, type StoreCredentialData } from '../../lib/store/config';
import { openStore } from '../../lib/store';
import { publicUrlOf } from './publicUrl';

// Nodes declare it as { name: 'referralStoreApi', required: true, testedBy: 'referralStoreConnectionTest' }.
const STORE_CREDENTIAL = 'referralStoreApi';

type StoreUser = IExecuteFunctions | IHookFunctions | ILoadOptionsFunctions | IPollFunctions | IWebhookFunctions;

/**
 * The program over the credential's store. Stores are opened once per credential and kept for
 * the life of the n8n process, so executions share connections instead of opening their own.
 */
export async function programFor(context: StoreUser): Promise<ReferralProgram> {
	const data = (await context.getCredentials(STORE_CREDENTIAL)) as StoreCredentialData;
	try {
		return new ReferralProgram(await openStore(storeConfigFromCredential(data)), undefined, { publicUrl: publicUrlOf(context) });
	} catch (error) {
		throw new NodeOperationError(context.getNode(), `Could not open the referral store: ${(error as Error).message}`, {
			description: 'Check the Referral Store credential (its Test button says what is wrong)',
		});
	}
}

/** The credential's Test button: opens the store (running migrations) and reads from it. */
export async function referralStoreConnectionTest(
	this: ICredentialTestFunctions,
	credential: ICredentialsDecrypted,
): Promise<INodeCredentialTestResult> {
	try {
		const config = storeConfigFromCredential((credential.data ?? {}) as StoreCredentialData);
		const store = await openStore(config);
		await store.read((tx) => tx.listCampaigns({}, { limit: 1 }));
		const where = config.backend === 'sqlite' ? config.path : `${config.host}:${config.port}/${config.database} (schema ${config.schema})`;
		return { status: 'OK', message: `Connected to the ${config.backend} store at ${where}` };
	} catch (error) {
		return { status: 'Error', message: `Could not open the referral store: ${(error as Error).message}` };
	}
}
