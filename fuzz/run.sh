#!/bin/sh
# run.sh FUZZ-BUILD SECONDS - replays corpora and runs each fuzz target briefly.
echo "fuzz: no targets yet"
