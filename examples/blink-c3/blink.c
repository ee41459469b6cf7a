/*
 * blink-c3: the smallest useful ESP32-C3 application. It toggles GPIO8 (the
 * on-board LED of many ESP32-C3 boards) about twice a second, with no SDK:
 * registers only, so that it builds with a plain RISC-V GCC.
 *
 * The ESP-IDF second-stage bootloader that espctl bundles loads it like any
 * ESP-IDF or esp-hal application: it maps DROM and IROM from flash, checks the
 * application descriptor below, and jumps to _start.
 */
#include <stdint.h>

#define REG(addr) (*(volatile uint32_t *)(addr))

/* ESP32-C3 register addresses (ESP32-C3 Technical Reference Manual). */
#define RTC_CNTL_BASE          0x60008000u
#define RTC_CNTL_WDTCONFIG0    (RTC_CNTL_BASE + 0x90)
#define RTC_CNTL_WDTWPROTECT   (RTC_CNTL_BASE + 0xA8)
#define RTC_CNTL_SWD_CONF      (RTC_CNTL_BASE + 0xAC)
#define RTC_CNTL_SWD_WPROTECT  (RTC_CNTL_BASE + 0xB0)
#define RTC_WDT_WRITE_KEY      0x50D83AA1u
#define RTC_SWD_WRITE_KEY      0x8F1D312Au
#define SWD_AUTO_FEED_EN       (1u << 31)

#define GPIO_BASE              0x60004000u
#define GPIO_OUT_W1TS          (GPIO_BASE + 0x08)
#define GPIO_OUT_W1TC          (GPIO_BASE + 0x0C)
#define GPIO_ENABLE_W1TS       (GPIO_BASE + 0x24)
#define GPIO_FUNC_OUT_SEL(n)   (GPIO_BASE + 0x554 + 4 * (n))
#define GPIO_SIMPLE_OUTPUT     0x80u /* SIG_GPIO_OUT_IDX: drive from GPIO_OUT */

#define IO_MUX_BASE            0x60009000u
#define IO_MUX_GPIO(n)         (IO_MUX_BASE + 0x04 + 4 * (n))
#define IO_MUX_MCU_SEL_MASK    (7u << 12)
#define IO_MUX_FUNC_GPIO       (1u << 12)

#define LED_GPIO 8

/*
 * esp_app_desc_t from ESP-IDF (components/esp_app_format/include/esp_app_desc.h),
 * 256 bytes. The bootloader reads it from the start of the first flash
 * segment; espflash moves the segment holding .flash.appdesc there and fills
 * in app_elf_sha256.
 */
typedef struct {
    uint32_t magic_word;
    uint32_t secure_version;
    uint32_t reserv1[2];
    char version[32];
    char project_name[32];
    char time[16];
    char date[16];
    char idf_ver[32];
    uint8_t app_elf_sha256[32];
    uint16_t min_efuse_blk_rev_full;
    uint16_t max_efuse_blk_rev_full;
    uint8_t mmu_page_size;
    uint8_t reserv3[3];
    uint32_t reserv2[18];
} esp_app_desc_t;

_Static_assert(sizeof(esp_app_desc_t) == 256, "esp_app_desc_t must be 256 bytes");

/* Fixed strings rather than __DATE__/__TIME__, so rebuilding gives the same ELF. */
__attribute__((section(".flash.appdesc"), used))
const esp_app_desc_t esp_app_desc = {
    .magic_word = 0xABCD5432,
    .version = "0.1.0",
    .project_name = "blink-c3",
    .time = "00:00:00",
    .date = "May  5 2026",
    .idf_ver = "n/a (bare-metal C)",
    .min_efuse_blk_rev_full = 0,
    .max_efuse_blk_rev_full = 0xFFFF,
    .mmu_page_size = 16, /* log2(64 KiB), the ESP32-C3's only MMU page size */
};

/*
 * The bootloader leaves the RTC watchdog armed for the application to take
 * over; an application that never feeds it is reset after a few seconds.
 */
static void disable_watchdogs(void)
{
    REG(RTC_CNTL_WDTWPROTECT) = RTC_WDT_WRITE_KEY;
    REG(RTC_CNTL_WDTCONFIG0) = 0;
    REG(RTC_CNTL_WDTWPROTECT) = 0;

    REG(RTC_CNTL_SWD_WPROTECT) = RTC_SWD_WRITE_KEY;
    REG(RTC_CNTL_SWD_CONF) |= SWD_AUTO_FEED_EN;
    REG(RTC_CNTL_SWD_WPROTECT) = 0;
}

static void delay(uint32_t loops)
{
    for (volatile uint32_t i = 0; i < loops; i++) {
    }
}

void main(void)
{
    disable_watchdogs();

    REG(IO_MUX_GPIO(LED_GPIO)) = (REG(IO_MUX_GPIO(LED_GPIO)) & ~IO_MUX_MCU_SEL_MASK) | IO_MUX_FUNC_GPIO;
    REG(GPIO_FUNC_OUT_SEL(LED_GPIO)) = GPIO_SIMPLE_OUTPUT;
    REG(GPIO_ENABLE_W1TS) = 1u << LED_GPIO;

    for (;;) {
        REG(GPIO_OUT_W1TS) = 1u << LED_GPIO;
        delay(2000000);
        REG(GPIO_OUT_W1TC) = 1u << LED_GPIO;
        delay(2000000);
    }
}
