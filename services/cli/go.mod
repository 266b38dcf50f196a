module github.com/infra-mind/infra-mind/services/cli

go 1.26.0

require github.com/infra-mind/infra-mind/pkg v0.0.0

replace github.com/infra-mind/infra-mind/pkg => ../../pkg
