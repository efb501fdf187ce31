//! The provider simulator (`bulkleave simulate`): an HTTP server emulating the leave endpoints
//! of all four providers. (Being built.)
