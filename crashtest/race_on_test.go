//go:build race

package crashtest

// raceEnabled is true when the tests run with -race; the broker is then
// built with -race too.
const raceEnabled = true
