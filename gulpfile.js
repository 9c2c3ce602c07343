const { src, dest, parallel } = require('gulp');

// TypeScript compiles nodes, credentials and lib; everything else a built node needs at run time
// (icons, codex files, SQL migrations) is copied beside it into dist/.
function copyIcons() {
	return src('icons/*.svg').pipe(dest('dist/icons'));
}

function copyNodeAssets() {
	return src(['nodes/**/*.json', 'nodes/**/*.svg'], { base: '.' }).pipe(dest('dist'));
}

exports['build:assets'] = parallel(copyIcons, copyNodeAssets);
