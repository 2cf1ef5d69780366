#include "cli/exit_codes.hpp"
