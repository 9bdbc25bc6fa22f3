// Forwarding header: the log test helpers moved to tests/testing/ (the
// razar_testing library). tests/orchestrator includes this name for
// TempDir; new code includes "testing/temp_dir.h" or
// "testing/log_test_util.h" directly.
#pragma once

#include "testing/log_test_util.h"
#include "testing/temp_dir.h"
