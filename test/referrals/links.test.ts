import { defaultLinkTemplate, parseLinkTemplate, renderLink } from '../../lib/referrals/links';

describe('referral links', () => {
	it('default to the referred-signup form of this n8n instance', () => {
		expect(defaultLinkTemplate('https://n8n.example.com/')).toBe(
			'https://n8n.example.com/form/refer?ref={{code}}',
		);
	});

	it('render every placeholder with the code', () => {
		expect(renderLink('https://x.io/r/{{code}}?c={{code}}', 'AB-C')).toBe('https://x.io/r/AB-C?c=AB-C');
	});

	it('templates must hold the placeholder', () => {
		expect(() => parseLinkTemplate('https://x.io/join')).toThrow('must contain {{code}}');
	});

	it('templates must make an absolute http(s) URL', () => {
		expect(() => parseLinkTemplate('/join?ref={{code}}')).toThrow('does not make a valid URL');
		expect(() => parseLinkTemplate('javascript:alert({{code}})')).toThrow('must start with http');
	});
});
