package main

import (
	"errors"
	"fmt"
	"strings"
)

// Exit statuses, decided here and nowhere else.
const (
	// ExitOK: the command did its job and found nothing wrong.
	ExitOK = 0
	// ExitFinding: the command did its job and the answer is "no": diff found
	// differences, verify found a check that failed.
	ExitFinding = 1
	// ExitTrouble: the command could not do its job (bad usage, unreadable or
	// damaged input, missing privileges, I/O error), like diff(1)'s 2.
	ExitTrouble = 2
	// ExitInterrupted: stopped by a signal before finishing (128+SIGINT).
	ExitInterrupted = 130
)

// exitError carries an exit status with an error. A nil err means the command
// already printed what it had to say.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// finding returns an error that exits ExitFinding without printing anything.
func finding() error { return &exitError{code: ExitFinding} }

// troubleSaid returns an error that exits ExitTrouble without printing
// anything: the command already said what was wrong.
func troubleSaid() error { return &exitError{code: ExitTrouble} }

// trouble wraps err so that it exits ExitTrouble.
func trouble(err error) error { return &exitError{code: ExitTrouble, err: err} }

// exitCode maps an error from a command to the process exit status and the
// one line to print (empty: print nothing).
func exitCode(err error) (int, string) {
	if err == nil {
		return ExitOK, ""
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err == nil {
			return ee.code, ""
		}
		return ee.code, oneLine(ee.err.Error())
	}
	// Anything else (cobra usage errors, plain errors) is trouble.
	return ExitTrouble, oneLine(err.Error())
}

// oneLine keeps error output to a single line, as scripts expect.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "\r", " ")
	return strings.ReplaceAll(s, "\n", "; ")
}
