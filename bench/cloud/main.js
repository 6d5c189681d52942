// Cloud code for the cloud benchmark (bench.py --only cloud), loaded by Basalt and Parse Server
// alike: an empty function, a function that answers, and a beforeSave that changes a field.
Parse.Cloud.define('empty', () => {});
Parse.Cloud.define('hello', (req) => `Hello, ${req.params.name ?? 'world'}!`);
Parse.Cloud.beforeSave('CloudBench', (req) => {
  req.object.set('slug', String(req.object.get('name')).trim().toLowerCase());
});
