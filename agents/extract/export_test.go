package extract

// ChildEnviron exposes childEnviron to the tests.
var ChildEnviron = childEnviron
