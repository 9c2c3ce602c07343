import { invalidInput } from './errors';

export const CODE_PLACEHOLDER = '{{code}}';
/** The referred-signup form of the bundled workflows, relative to the n8n instance. */
export const REFERRED_FORM_PATH = '/form/refer';

export function defaultLinkTemplate(instanceBaseUrl: string): string {
	return `${instanceBaseUrl.replace(/\/+$/, '')}${REFERRED_FORM_PATH}?ref=${CODE_PLACEHOLDER}`;
}

export function renderLink(template: string, code: string): string {
	return template.split(CODE_PLACEHOLDER).join(encodeURIComponent(code));
}

/** A template must hold the placeholder and render to an absolute http(s) URL. */
export function parseLinkTemplate(value: unknown, field = 'linkTemplate'): string {
	if (typeof value !== 'string') throw invalidInput(field, 'The link template must be text');
	const template = value.trim();
	if (!template.includes(CODE_PLACEHOLDER)) {
		throw invalidInput(
			field,
			`The link template must contain ${CODE_PLACEHOLDER} where the referral code goes`,
			`For example https://example.com/join?ref=${CODE_PLACEHOLDER}`,
		);
	}
	if (template.length > 2000) throw invalidInput(field, 'The link template is longer than 2,000 characters');
	let url: URL;
	try {
		url = new URL(renderLink(template, 'CODE'));
	} catch {
		throw invalidInput(field, `The link template "${template}" does not make a valid URL`);
	}
	if (url.protocol !== 'http:' && url.protocol !== 'https:') {
		throw invalidInput(field, 'The link template must start with http:// or https://');
	}
	return template;
}
