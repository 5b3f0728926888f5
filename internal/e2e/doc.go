// Package e2e holds the end-to-end tests that need every part at once: the
// real foreman-engine and foreman binaries, the console driven inside tmux,
// and `make demo` as a newcomer runs it.
package e2e
