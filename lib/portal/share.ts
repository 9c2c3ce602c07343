import { invalidInput } from '../referrals/errors';
import { escapeHtml, page, type Branding } from './html';
import { qrSvg } from './qr';

/** Where `{{link}}` goes in the share message. */
export const LINK_PLACEHOLDER = '{{link}}';
export const DEFAULT_SHARE_MESSAGE = `I'm a customer and I think you'd like it too. Sign up with my link: ${LINK_PLACEHOLDER}`;
export const DEFAULT_SHARE_SUBJECT = 'You should try this';

export interface ShareSettings {
	/** The prefilled message of every share button, with `{{link}}` where the link goes. */
	message: string;
	/** The subject of the email share. */
	subject: string;
}

export function parseShareSettings(input: { message?: unknown; subject?: unknown }): ShareSettings {
	const message = typeof input.message === 'string' && input.message.trim() !== '' ? input.message.trim() : DEFAULT_SHARE_MESSAGE;
	if (message.length > 1000) throw invalidInput('shareMessage', 'The share message is longer than 1,000 characters');
	const subject = typeof input.subject === 'string' && input.subject.trim() !== '' ? input.subject.trim() : DEFAULT_SHARE_SUBJECT;
	if (subject.length > 200) throw invalidInput('shareSubject', 'The email subject is longer than 200 characters');
	return { message, subject };
}

/** The message with the link in it; a message without the placeholder gets the link at its end. */
export function shareText(settings: ShareSettings, link: string): string {
	return settings.message.includes(LINK_PLACEHOLDER)
		? settings.message.split(LINK_PLACEHOLDER).join(link)
		: `${settings.message} ${link}`;
}

export interface ShareTarget {
	id: 'email' | 'whatsapp' | 'sms' | 'linkedin' | 'x' | 'facebook';
	label: string;
	href: string;
}

/** The share buttons: plain links that open the app or the network's own share dialog. */
export function shareTargets(settings: ShareSettings, link: string): ShareTarget[] {
	const text = encodeURIComponent(shareText(settings, link));
	const url = encodeURIComponent(link);
	return [
		{ id: 'email', label: 'Email', href: `mailto:?subject=${encodeURIComponent(settings.subject)}&body=${text}` },
		{ id: 'whatsapp', label: 'WhatsApp', href: `https://wa.me/?text=${text}` },
		// `sms:?&body=` is the spelling both iOS and Android read.
		{ id: 'sms', label: 'SMS', href: `sms:?&body=${text}` },
		{ id: 'linkedin', label: 'LinkedIn', href: `https://www.linkedin.com/sharing/share-offsite/?url=${url}` },
		{ id: 'x', label: 'X', href: `https://x.com/intent/tweet?text=${text}` },
		{ id: 'facebook', label: 'Facebook', href: `https://www.facebook.com/sharer/sharer.php?u=${url}` },
	];
}

/**
 * The copy button's script, the pages' only JavaScript: the Clipboard API where the page may use it,
 * else the selected field and execCommand (n8n serves webhook pages in a CSP sandbox).
 */
export const COPY_SCRIPT = `(function(){var b=document.getElementById('copy'),f=document.getElementById('link');if(!b||!f)return;b.hidden=false;
function done(ok){b.textContent=ok?'Copied!':'Press Ctrl+C to copy';setTimeout(function(){b.textContent='Copy link'},2500)}
function legacy(){f.focus();f.select();f.setSelectionRange(0,f.value.length);var ok=false;try{ok=document.execCommand('copy')}catch(e){}done(ok)}
b.addEventListener('click',function(){if(navigator.clipboard&&navigator.clipboard.writeText){navigator.clipboard.writeText(f.value).then(function(){done(true)},legacy)}else{legacy()}});})();`;

/** The link with its copy button, the share buttons and the QR code: the heart of both pages. */
export function shareSection(settings: ShareSettings, link: string): string {
	const buttons = shareTargets(settings, link)
		.map((target) => {
			const external = target.href.startsWith('https:') ? ' target="_blank" rel="noopener noreferrer"' : '';
			return `<li><a class="share-${target.id}" href="${escapeHtml(target.href)}"${external}>${escapeHtml(target.label)}</a></li>`;
		})
		.join('');
	return [
		'<section class="card" id="your-link">',
		'<h2>Your referral link</h2>',
		'<div class="link">',
		`<input id="link" type="text" readonly value="${escapeHtml(link)}" aria-label="Your referral link" onfocus="this.select()">`,
		// Hidden until the script runs: without JavaScript the field is selectable by hand.
		'<button id="copy" type="button" hidden>Copy link</button>',
		'</div>',
		'</section>',
		'<section class="card" id="share">',
		'<h2>Share it</h2>',
		`<ul class="share">${buttons}</ul>`,
		'</section>',
		'<section class="card" id="qr">',
		'<h2>Or let them scan it</h2>',
		`<div class="qr-tile">${qrSvg(link, { label: `QR code of ${link}` })}</div>`,
		'</section>',
	].join('\n');
}

/**
 * The share page. It is found by the referral code, which the link itself shows to anyone, so it
 * shows nothing the link does not: no name, no figures (those are on the signed stats page).
 */
export function renderSharePage(branding: Branding, settings: ShareSettings, link: string): string {
	return page(branding, {
		heading: 'Share your link',
		body: [
			'<section class="card"><h2>Thanks for spreading the word!</h2>',
			'<p>Share your personal link with friends. When someone signs up with it, it counts for you. ',
			'Your private stats page, linked in our emails to you, shows who joined and what you earned.</p></section>',
			shareSection(settings, link),
		].join('\n'),
		script: COPY_SCRIPT,
	});
}
