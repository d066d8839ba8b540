package dynamostore

// SetScanLimit makes every Scan of s return at most n items a page, so that
// a test with a few items sees pagination.
func SetScanLimit(s *Store, n int32) { s.scanLimit = n }
