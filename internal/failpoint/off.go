//go:build !failpoints

package failpoint

// Enabled reports whether failpoints are compiled in.
const Enabled = false

// Inject is off: failpoints are not compiled in. It inlines to the zero
// Action, so the call site's branch is dropped.
func Inject(string) Action { return Action{} }

// CallEarly returns done: failpoints are not compiled in.
func CallEarly[T any](_ string, done func(T), _ T) func(T) { return done }

// Set fails with ErrNotBuilt.
func Set(string, string) error { return ErrNotBuilt }

// Get fails with ErrNotBuilt.
func Get(string) (Status, error) { return Status{}, ErrNotBuilt }

// List is empty.
func List() []Status { return nil }

// LoadEnv does nothing: without failpoints PETRELFP_ variables mean nothing.
func LoadEnv([]string) error { return nil }
