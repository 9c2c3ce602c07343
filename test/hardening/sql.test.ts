/**
 * Every SQL statement the store sends is parameterised: values travel as bound parameters ($1, ?),
 * never inside the SQL text. This reads the store's source and finds every interpolation (`${…}`) on
 * a line of SQL; each must be one of the few things that may be part of SQL text, all fixed by the
 * code itself: column lists, placeholder numbers, clauses built from those, a checked schema name.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const STORE_DIR = path.resolve(__dirname, '..', '..', 'lib', 'store');

/** Words only SQL puts on a line in upper case. */
const SQL_LINE = /\b(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|PRAGMA|WHERE|RETURNING|VALUES|ORDER BY|LIMIT|SCHEMA|SET)\b/;

/** What may be interpolated into SQL text, and why it is safe. */
const ALLOWED: Array<[RegExp, string]> = [
	[/^[A-Z][A-Z_]*_COLUMNS$/, 'a constant column list'],
	[/^BUSY_TIMEOUT_MS$/, 'a constant number'],
	[/^params\.length$/, 'a placeholder number ($1, $2, ...)'],
	[/^(where|sets|any)\.join\('( AND | OR |, )'\)$/, 'clauses built from placeholders and whitelisted columns'],
	[/^where\.length \? ` WHERE \$\{where\.join\(' AND '\)\}` : ''$/, 'the same, when there are any'],
	[/^column$/, 'a column name from a fixed whitelist (assignments())'],
	[/^cast$/, 'a fixed type cast'],
	[/^sql$/, 'SQL text built above from the same parts'],
	[/^(schema|config\.schema)$/, 'the schema name, checked against ^[a-z_][a-z0-9_]{0,62}$ before use'],
	[/^order === 'desc' \? 'DESC' : 'ASC'$/, 'a fixed keyword'],
	[/^placeholder( \+ 1)?$/, 'a placeholder number chosen by the code ($4, $6, ...)'],
	[/^table$/, 'a table name from a fixed list in the same expression'],
	[/^where$/, 'a WHERE clause the code passes as a literal of placeholders and fixed columns'],
	[/^nextSchemaVersion$/, 'an integer read from PRAGMA schema_version plus one (PRAGMA takes no parameters)'],
];

/** The `${…}` expressions of a line, with nested braces and template literals balanced. */
function interpolations(line: string): string[] {
	const found: string[] = [];
	for (let i = line.indexOf('${'); i !== -1; i = line.indexOf('${', i + 1)) {
		let depth = 0;
		for (let j = i + 1; j < line.length; j++) {
			if (line[j] === '{') depth++;
			else if (line[j] === '}' && --depth === 0) {
				found.push(line.slice(i + 2, j).trim());
				i = j;
				break;
			}
		}
	}
	return found;
}

function sourceFiles(dir: string): string[] {
	return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
		const full = path.join(dir, entry.name);
		return entry.isDirectory() ? sourceFiles(full) : entry.name.endsWith('.ts') ? [full] : [];
	});
}

describe('the store builds no SQL from values', () => {
	const files = sourceFiles(STORE_DIR);

	it('reads the store’s sources (both backends and their migrations)', () => {
		const names = files.map((file) => path.relative(STORE_DIR, file));
		expect(names).toEqual(expect.arrayContaining(['sqlite/index.ts', 'postgres/index.ts', 'sqlite/migrations.ts', 'postgres/migrations.ts']));
	});

	it('interpolates into SQL text only column lists, placeholders, whitelisted columns and the checked schema', () => {
		const problems: string[] = [];
		let checked = 0;
		for (const file of files) {
			fs.readFileSync(file, 'utf8')
				.split('\n')
				.forEach((line, index) => {
					if (!SQL_LINE.test(line)) return;
					for (const expression of interpolations(line)) {
						checked++;
						if (!ALLOWED.some(([pattern]) => pattern.test(expression))) {
							problems.push(`${path.relative(STORE_DIR, file)}:${index + 1}: \${${expression}} in ${line.trim()}`);
						}
					}
				});
		}
		expect(problems).toEqual([]);
		expect(checked).toBeGreaterThan(50);
	});

	it('never concatenates a variable onto SQL text with +', () => {
		const problems: string[] = [];
		for (const file of files) {
			fs.readFileSync(file, 'utf8')
				.split('\n')
				.forEach((line, index) => {
					// `'… WHERE x = ' + value` or `value + ' …'`: a quoted SQL fragment joined to an identifier.
					if (SQL_LINE.test(line) && /(['"]\s*\+\s*[A-Za-z_$][\w.]*\s*(?![\w.]*\s*[`'"(]))|([A-Za-z_$][\w.]*\s*\+\s*['"])/.test(line)) {
						problems.push(`${path.relative(STORE_DIR, file)}:${index + 1}: ${line.trim()}`);
					}
				});
		}
		expect(problems).toEqual([]);
	});

	it('catches a value interpolated into SQL (the check itself works)', () => {
		const line = "await this.q(`SELECT * FROM participants WHERE email = '${email}'`, []);";
		const bad = interpolations(line).filter((expression) => !ALLOWED.some(([pattern]) => pattern.test(expression)));
		expect(bad).toEqual(['email']);
		expect(interpolations('`SELECT ${PARTICIPANT_COLUMNS} FROM participants WHERE id = $${params.length}`')).toEqual([
			'PARTICIPANT_COLUMNS',
			'params.length',
		]);
	});
});
