// The ringfork library: include this one header.
#pragma once

#include "ringfork/app.hpp"
#include "ringfork/function.hpp"
#include "ringfork/http.hpp"
#include "ringfork/loop.hpp"
#include "ringfork/tasks.hpp"
