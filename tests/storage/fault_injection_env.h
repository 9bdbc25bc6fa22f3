// Forwarding header: FaultInjectionEnv moved out of the production library
// into storage/testing/ (razar_storage_testing). tests/orchestrator
// includes this name; new code includes
// "storage/testing/fault_injection_env.h".
#pragma once

#include "storage/testing/fault_injection_env.h"
