module.exports = {
  ...require('../../jest.preset.cjs'),
  displayName: 'werift-kit',
  rootDir: __dirname,
};
