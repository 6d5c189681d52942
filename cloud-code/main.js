// Example cloud code: `basalt` run in the repository's root loads this file by default
// (`--cloud` names another). Try it:
//   curl -X POST -H 'X-Parse-Application-Id: basalt' http://127.0.0.1:1337/parse/functions/hello \
//        -d '{"name":"Ada"}'
Parse.Cloud.define('hello', (req) => `Hello, ${req.params.name ?? 'world'}!`);

// A beforeSave that keeps a derived field up to date.
Parse.Cloud.beforeSave('Post', (req) => {
  const title = req.object.get('title');
  if (typeof title !== 'string' || title.trim() === '') {
    throw new Parse.Error(Parse.Error.VALIDATION_ERROR, 'A post needs a title.');
  }
  req.object.set('slug', title.trim().toLowerCase().replace(/[^a-z0-9]+/g, '-'));
});
