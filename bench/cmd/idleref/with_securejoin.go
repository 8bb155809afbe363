//go:build with_securejoin

package main

// Linked only for the benchmark's import-cost variant with_securejoin.
import _ "github.com/cyphar/filepath-securejoin"
