// The service the Thrift end-to-end tests call through linkerd: a reply, a declared
// exception, an undeclared failure (TApplicationException) and a oneway call.
namespace py ping
namespace js ping

exception PingError {
  1: string why
}

service PingService {
  string ping(1: string msg) throws (1: PingError err),
  oneway void fire(1: string msg),
  list<string> fired(),
}
