// Replay engine (filled in by issue 4).
namespace razar::replay {}
