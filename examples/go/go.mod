module github.com/portcullis/portcullis/examples/go

go 1.26

require github.com/portcullis/portcullis/bindings/go v0.0.0

replace github.com/portcullis/portcullis/bindings/go => ../../bindings/go
