/* placeholder replaced by the offloader issue */
int main(void) { return 2; }
