module github.com/eventcore-go/eventcore/bench

go 1.26.0

require (
	github.com/cloudwego/netpoll v0.7.2
	github.com/eventcore-go/eventcore v0.0.0-00010101000000-000000000000
	github.com/valyala/fasthttp v1.77.0
	golang.org/x/sys v0.49.0
)

require (
	github.com/bytedance/gopkg v0.1.1 // indirect
	github.com/cloudwego/gopkg v0.1.4 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/molecule-man/go-brrr v1.3.0 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
)

replace github.com/eventcore-go/eventcore => ../
