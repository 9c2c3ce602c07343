import { DEFAULT_LINK_TEMPLATE, parseLinkTemplate, renderLink, resolveLink } from '../../lib/referrals/links';

describe('referral links', () => {
	it('default to the referred-signup form of this n8n, whichever process renders them', () => {
		expect(DEFAULT_LINK_TEMPLATE).toBe('{{n8nUrl}}/form/refer?ref={{code}}');
		const stored = renderLink(DEFAULT_LINK_TEMPLATE, 'ABC');
		expect(stored).toBe('{{n8nUrl}}/form/refer?ref=ABC');
		expect(resolveLink(stored, () => 'https://n8n.example.com/')).toBe('https://n8n.example.com/form/refer?ref=ABC');
		expect(resolveLink(stored, () => 'https://n8n.example.com/sub')).toBe('https://n8n.example.com/sub/form/refer?ref=ABC');
	});

	it('ask for the public URL only for links that need it', () => {
		const never = () => {
			throw new Error('not asked');
		};
		expect(resolveLink('https://acme.io/r/ABC', never)).toBe('https://acme.io/r/ABC');
	});

	it('render every placeholder with the code', () => {
		expect(renderLink('https://x.io/r/{{code}}?c={{code}}', 'AB-C')).toBe('https://x.io/r/AB-C?c=AB-C');
	});

	it('templates must hold the placeholder', () => {
		expect(() => parseLinkTemplate('https://x.io/join')).toThrow('must contain {{code}}');
	});

	it('templates must make an absolute http(s) URL; {{n8nUrl}} only at the start', () => {
		expect(() => parseLinkTemplate('/join?ref={{code}}')).toThrow('does not make a valid URL');
		expect(() => parseLinkTemplate('javascript:alert({{code}})')).toThrow('must start with http');
		expect(parseLinkTemplate(' {{n8nUrl}}/form/join?ref={{code}} ')).toBe('{{n8nUrl}}/form/join?ref={{code}}');
		expect(() => parseLinkTemplate('https://x.io/?next={{n8nUrl}}&ref={{code}}')).toThrow('can only stand at the start');
	});
});
